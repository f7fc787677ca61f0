"""resolve_data_root: explicit folder, then $VAELAB_DATA_DIR, then the user cache folder."""

from pathlib import Path

from vaelab.data.paths import resolve_data_root


def test_explicit_dir_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("VAELAB_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_root(str(tmp_path)) == tmp_path


def test_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("VAELAB_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_root(None) == tmp_path / "env"


def test_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("VAELAB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_data_root() == tmp_path / "cache" / "vaelab" / "data"


def test_home_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("VAELAB_DATA_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_data_root() == Path(tmp_path) / ".cache" / "vaelab" / "data"
    assert not (tmp_path / ".cache").exists()  # resolving creates nothing
