"""Static files build the way production builds them: hashed names, every reference resolved."""

import json
import re

from django.core.management import call_command


def test_collectstatic_with_the_manifest_storage_resolves_every_reference(settings, tmp_path):
    # DEBUG off uses whitenoise's CompressedManifestStaticFilesStorage; the manifest step is
    # Django's and is what fails on a reference to a missing file (a source map, a font).
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)

    paths = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    chart = paths["heliox/vendor/chart-4.6.1.umd.min.js"]
    assert re.fullmatch(r"heliox/vendor/chart-4\.6\.1\.umd\.min\.[0-9a-f]{12}\.js", chart)
    assert (tmp_path / chart).is_file()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in paths
