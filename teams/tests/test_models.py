from costs.usage.models import UsageSnapshot
from costs.usage.tests.factories import UsageSnapshotFactory
from heliox.testing import assert_rejected_by_database
from jobs.models import Job
from jobs.tests.factories import JobFactory
from teams.models import Membership, Team
from teams.tests.factories import MembershipFactory, TeamFactory, UserFactory


def test_database_rejects_duplicate_team_name(db):
    TeamFactory(name="vision")
    assert_rejected_by_database(lambda: Team.objects.create(name="vision"))


def test_database_rejects_unknown_membership_role(db):
    user, team = UserFactory(), TeamFactory()
    assert_rejected_by_database(lambda: Membership.objects.create(user=user, team=team, role="owner"))


def test_database_rejects_second_membership_of_same_user_in_team(db):
    membership = MembershipFactory()
    assert_rejected_by_database(lambda: Membership.objects.create(user=membership.user, team=membership.team))


def test_deleting_team_deletes_its_jobs_and_snapshots(db):
    doomed, kept = TeamFactory(name="doomed"), TeamFactory(name="kept")
    JobFactory.create_batch(2, team=doomed)
    JobFactory(team=kept)
    UsageSnapshotFactory(team=doomed)
    UsageSnapshotFactory(team=kept)

    doomed.delete()

    assert list(Job.objects.values_list("team__name", flat=True)) == ["kept"]
    assert list(UsageSnapshot.objects.values_list("team__name", flat=True)) == ["kept"]


def test_str_names_the_team_and_role(db):
    membership = MembershipFactory(user=UserFactory(username="ada"), team=TeamFactory(name="nlp"), role="manager")
    assert str(membership) == "ada in nlp (manager)"
    assert str(membership.team) == "nlp"
