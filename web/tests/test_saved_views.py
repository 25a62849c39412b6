"""Saved views: each user saves, lists, reopens and deletes their own, and sees nobody else's."""

from decimal import Decimal

import pytest
from django.db import IntegrityError

from costs.dashboard.models import SavedView
from web.tests.conftest import RANGE


def _save(client, name: str, query: str, page: str = "home"):
    return client.post("/views/save/", {"name": name, "page": page, "query": query})


@pytest.mark.parametrize("role", ["member", "manager", "superuser"])
def test_each_role_saves_a_view_that_reopens_the_same_page(org, as_role, role):
    client = as_role(role)
    response = _save(client, "llama", f"page=2&model=llama&{RANGE}&format=csv")
    # Kept in the view's order, without paging or format: it reopens as HTML.
    assert response.status_code == 302
    assert response["Location"] == "/?start=2025-03-10&end=2025-03-11&model=llama"
    reopened = client.get(response["Location"])
    assert reopened.context["card"]["allocated_usd"] == Decimal("32.00")
    assert [(v.name, v.get_absolute_url()) for v in reopened.context["saved"]] == [
        ("llama", "/?start=2025-03-10&end=2025-03-11&model=llama")]  # fmt: skip
    listing = client.get("/views/").content.decode()
    assert 'href="/?start=2025-03-10&amp;end=2025-03-11&amp;model=llama">llama</a>' in listing


def test_users_see_only_their_own_views_and_cannot_delete_anothers(org, as_role, users):
    mine = SavedView.objects.create(user=users["member"], name="mine", page="home", query=RANGE)
    manager = as_role("manager")
    assert "mine" not in manager.get("/views/").content.decode()
    assert manager.get(f"/?{RANGE}").context["saved"] == []
    assert manager.post(f"/views/{mine.pk}/delete/").status_code == 404
    assert SavedView.objects.filter(pk=mine.pk).exists()
    member = as_role("member")
    assert member.post(f"/views/{mine.pk}/delete/")["Location"] == "/views/"
    assert not SavedView.objects.filter(pk=mine.pk).exists()


def test_the_same_name_replaces_the_users_view_and_other_users_may_reuse_it(org, as_role, users):
    member, manager = as_role("member"), as_role("manager")
    _save(member, "weekly", RANGE)
    _save(member, "weekly", f"{RANGE}&model=llama")
    _save(manager, "weekly", RANGE)
    assert sorted((v.user.username, v.query) for v in SavedView.objects.all()) == [
        ("alice", RANGE), ("bob", f"{RANGE}&model=llama")]  # fmt: skip
    with pytest.raises(IntegrityError):
        SavedView.objects.create(user=users["member"], name="weekly", page="home", query="")


def test_the_staff_dashboard_saves_its_view_for_staff_who_see_it(org, staff_client, as_role):
    query = "range=last-30&idle=share&provider=aws"
    page = staff_client.get(f"/admin/?{query}").content.decode()
    assert f'<input type="hidden" name="query" value="{query.replace("&", "&amp;")}">' in page
    response = staff_client.post("/views/save/", {"name": "aws", "page": "dashboard", "query": query})
    assert response["Location"] == f"/admin/?{query}"
    assert [v.name for v in staff_client.get(f"/admin/?{query}").context["saved"]] == ["aws"]
    # Someone without the organisation's view cannot save one of the dashboard.
    assert _save(as_role("member"), "org", query, page="dashboard").status_code == 404


def test_bad_saves_are_refused_with_a_message(org, as_role, client):
    member = as_role("member")
    assert _save(member, "  ", RANGE)["Location"] == "/views/"
    assert _save(member, "x", RANGE, page="admin")["Location"] == "/views/"
    assert SavedView.objects.count() == 0
    assert "a saved view needs a name" in member.get("/views/").content.decode()
    assert client.post("/views/save/", {"name": "x", "page": "home"})["Location"].startswith("/login/")
    assert member.get("/views/save/").status_code == 405


def test_a_view_too_long_to_keep_or_with_a_nul_is_refused_not_a_500(org, as_role):
    member = as_role("member")
    # 2,000 characters that re-encode to 5,988 (each < is %3C): past the column, refused with a message
    assert _save(member, "long", "model=" + "<" * 1994)["Location"] == "/views/"
    assert _save(member, "nul\x00", RANGE)["Location"] == "/views/"
    assert SavedView.objects.count() == 0
    assert (
        "the view&#x27;s address is too long to save (5,988 characters; at most 2,000)"
        in member.get("/views/").content.decode()
    )
