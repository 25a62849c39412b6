from rest_framework import serializers

from heliox.api import ModelSerializer
from teams.models import Membership, Team


class MemberSerializer(ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role"]


class TeamSerializer(ModelSerializer):
    members = MemberSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "description", "members", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
