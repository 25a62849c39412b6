"""The price catalog's endpoints: everyone authenticated reads it, staff write it."""

from rest_framework import viewsets

from costs.catalog.api.serializers import GpuPriceSerializer, InstanceTypeSerializer
from costs.catalog.models import GpuPrice, InstanceType
from teams.api.permissions import StaffWritePermission, TeamScopedMixin


class GpuPriceViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """The price catalog (USD per GPU-hour, effective-dated). Staff write."""

    team_field = None
    serializer_class = GpuPriceSerializer
    permission_classes = [StaffWritePermission]
    queryset = GpuPrice.objects.order_by("provider", "gpu_type", "region", "pricing", "-effective_from")
    filterset_fields = ["provider", "gpu_type", "region", "pricing"]


class InstanceTypeViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """GPU instance types of each provider. Staff write."""

    team_field = None
    serializer_class = InstanceTypeSerializer
    permission_classes = [StaffWritePermission]
    queryset = InstanceType.objects.order_by("provider", "name")
    filterset_fields = ["provider", "gpu_type", "name"]
