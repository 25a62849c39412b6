from django.contrib.auth import get_user_model
from django.core.management import call_command


def test_ensure_admin_creates_superuser_with_given_password_once(db, monkeypatch, capsys):
    monkeypatch.setenv("HELIOX_ADMIN_PASSWORD", "s3cret-pass-word")

    call_command("ensure_admin")
    call_command("ensure_admin")

    admins = get_user_model().objects.filter(is_superuser=True)
    assert [user.username for user in admins] == ["admin"]
    assert admins[0].check_password("s3cret-pass-word")
    assert "A superuser exists already" in capsys.readouterr().out


def test_ensure_admin_generates_and_prints_a_password(db, monkeypatch, capsys):
    monkeypatch.delenv("HELIOX_ADMIN_PASSWORD", raising=False)

    call_command("ensure_admin")

    password = capsys.readouterr().out.split("admin / ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
