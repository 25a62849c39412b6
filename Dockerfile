# Production image: gunicorn serving Heliox, static files collected at build time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings, not a database or real secrets.
RUN DEBUG=off SECRET_KEY=build-only-not-secret-build-only-not-secret-build-only ALLOWED_HOSTS=build \
    python manage.py collectstatic --noinput

# /app/media: uploads waiting for their import (a volume in compose, which takes this owner).
RUN useradd --create-home heliox && mkdir -p /app/media && chown heliox /app/media
USER heliox
EXPOSE 8000
CMD ["gunicorn", "heliox.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
