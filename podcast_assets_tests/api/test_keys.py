"""API keys: lifecycle, storage as hashes only, and their effect on a live server."""

from __future__ import annotations

from pathlib import Path

import pytest

from podcast_assets.api.keys import KeyStore

from .conftest import A, RunningApi


def test_create_list_revoke(tmp_path: Path) -> None:
    store = KeyStore.in_dir(tmp_path / "serving")
    assert store.list_keys() == [] and store.verify("pa_0_x") is None  # reading creates nothing
    assert not (tmp_path / "serving").exists()

    pro_id, pro_key = store.create("pro")
    public_id, _ = store.create("public")
    assert pro_key.startswith(f"pa_{pro_id}_") and len(pro_key) > 50
    listed = {(k.key_id, k.tier, k.active) for k in store.list_keys()}
    assert listed == {(pro_id, "pro", True), (public_id, "public", True)}

    verified = store.verify(pro_key)
    assert verified is not None and (verified.key_id, verified.tier) == (pro_id, "pro")

    assert store.revoke(pro_id) is True
    assert store.revoke(pro_id) is False  # already revoked
    assert store.revoke("no-such-key") is False
    assert store.verify(pro_key) is None
    revoked = next(k for k in store.list_keys() if k.key_id == pro_id)
    assert not revoked.active and revoked.revoked_at is not None


def test_only_salted_hashes_are_stored(tmp_path: Path) -> None:
    store = KeyStore.in_dir(tmp_path)
    key_id, key = store.create("pro")
    secret = key.split("_", 2)[2]
    raw = store.path.read_bytes()
    assert key_id.encode() in raw
    assert secret.encode() not in raw and key.encode() not in raw
    assert store.path.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "tampered", ["", "pa", "pa__", "xx_{id}_{secret}", "pa_{id}_{secret}x", "pa_{id}_", "pa_ffff_{secret}"]
)
def test_near_misses_do_not_verify(tmp_path: Path, tampered: str) -> None:
    store = KeyStore.in_dir(tmp_path)
    key_id, key = store.create("internal")
    secret = key.split("_", 2)[2]
    assert store.verify(tampered.format(id=key_id, secret=secret)) is None


def test_unknown_tier_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown tier 'gold'"):
        KeyStore.in_dir(tmp_path).create("gold")


def test_revoking_a_key_locks_it_out_of_a_running_server(api: RunningApi) -> None:
    keys = KeyStore.in_dir(api.settings.serving_dir)
    key_id, key = keys.create("pro")
    route = f"/v1/pro/podcasts/{A}/trends"
    assert api.get(route, key=key).status_code == 200
    keys.revoke(key_id)
    revoked = api.get(route, key=key)
    assert revoked.status_code == 401
    assert revoked.json() == {"detail": "Invalid or revoked API key."}
    assert api.get("/v1/charts/top", key=key).status_code == 401
