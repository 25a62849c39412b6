"""Root URL configuration."""

from django.contrib import admin
from django.urls import path

from heliox.views import health

admin.site.site_header = "Heliox"
admin.site.site_title = "Heliox"
admin.site.index_title = "GPU cost and usage"

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
]
