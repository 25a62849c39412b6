"""Operations: the machinery of background work that belongs to no domain.

The Celery base task that records every run (base.py), the task-run log (models.py), the
default beat schedules (schedules.py) and ops-level tasks (ping, prune_task_runs).
Any app may import ops; ops imports no Heliox app.
"""
