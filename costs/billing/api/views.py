"""The daily bill's endpoint: the organisation's, so staff only; a write re-allocates its days."""

from rest_framework import viewsets

from costs.billing.api.serializers import CostSnapshotSerializer
from costs.billing.models import CostSnapshot
from costs.billing.services.bills import bill_changed
from teams.api.permissions import StaffWritePermission, TeamScopedMixin


class CostSnapshotViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """The daily bill per provider and GPU type: the organisation's, so staff only. Writes re-allocate the day."""

    staff_only = True
    serializer_class = CostSnapshotSerializer
    permission_classes = [StaffWritePermission]
    queryset = CostSnapshot.objects.order_by("-date", "provider", "gpu_type")
    filterset_fields = {"date": ["exact", "gte", "lt"], "provider": ["exact"], "gpu_type": ["exact"]}

    def perform_create(self, serializer):
        bill_changed(days=[serializer.save().date])
        serializer.instance.refresh_from_db()  # the response shows the new idle figures

    def perform_update(self, serializer):
        before = serializer.instance.date
        bill_changed(days={before, serializer.save().date})
        serializer.instance.refresh_from_db()

    def perform_destroy(self, instance):
        day = instance.date
        instance.delete()
        bill_changed(days=[day])
