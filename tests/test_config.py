from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional

import pytest

from vibe.config import ConfigError, apply_overrides, load_config, save_config, to_dict


@dataclass
class Inner:
    width: int = 1024
    pooling: Literal["attention", "concat", "last"] = "attention"
    dropout: float = 0.5


@dataclass
class Outer:
    name: str = "run"
    lr: float = 5e-5
    inner: Inner = field(default_factory=Inner)
    sizes: tuple[int, ...] = (16, 32)
    out: Optional[Path] = None


def test_defaults_yaml_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("lr: 1\ninner:\n  width: 512\n")
    cfg = load_config(Outer, f, ["inner.pooling=concat", "sizes=[1, 2, 3]", "out=/tmp/x", "inner.dropout=1e-4"])
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.inner == Inner(width=512, pooling="concat", dropout=1e-4)
    assert cfg.sizes == (1, 2, 3)
    assert cfg.out == Path("/tmp/x")
    assert cfg.name == "run"


def test_round_trip(tmp_path: Path) -> None:
    cfg = Outer(name="x", inner=Inner(width=7), out=Path("a/b"))
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(Outer, tmp_path / "c.yaml") == cfg
    assert to_dict(cfg)["inner"]["width"] == 7


@pytest.mark.parametrize(
    "override, message",
    [
        ("inner.widht=3", "unknown key"),
        ("inner.pooling=max", "not one of"),
        ("inner.width=abc", "expected int"),
        ("lr=true", "expected float"),
        ("lr=fast", "expected float"),
        ("novalue", "key.path=value"),
    ],
)
def test_bad_values_are_refused_with_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(Outer, None, [override])


@dataclass
class WithCustomSection:
    inner: Inner = field(default_factory=lambda: Inner(width=64, pooling="last"))


def test_partial_section_keeps_the_parent_default(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("inner:\n  dropout: 0.1\n")
    cfg = load_config(WithCustomSection, f)
    assert cfg.inner == Inner(width=64, pooling="last", dropout=0.1)  # not Inner()'s width 1024


def test_overrides_do_not_mutate_input() -> None:
    data = {"inner": {"width": 1}}
    out = apply_overrides(data, ["inner.width=2"])
    assert data["inner"]["width"] == 1 and out["inner"]["width"] == 2
