"""The page's texts and the plugin's i18n files agree (no browser needed).

Every ``t("key", …)`` / ``data-i18n`` key the page uses is in both en-US and zh-CN, the two
files have the same keys, and the ``config`` section covers ``_conf_schema.json`` (with one
label per option).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.integration.harness import REPO_ROOT

PAGE = REPO_ROOT / "pages" / "future-tasks"
I18N = REPO_ROOT / ".astrbot-plugin" / "i18n"
LOCALES = ("en-US", "zh-CN")


def _load(locale: str) -> dict[str, Any]:
    return json.loads((I18N / f"{locale}.json").read_text(encoding="utf-8"))


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else key))
    return out


def _used_keys() -> set[str]:
    js = (PAGE / "app.js").read_text(encoding="utf-8")
    html = (PAGE / "index.html").read_text(encoding="utf-8")
    keys = set(re.findall(r'(?:\bt\(|\[)\s*"((?:ui|pages)\.[\w.\-]+)"', js))
    keys = {k for k in keys if not k.endswith("_")}  # a prefix completed at run time
    keys |= set(re.findall(r'data-i18n(?:-placeholder)?="([\w.\-]+)"', html))
    for unit in ("day", "hour", "minute", "second"):  # everyWords() builds these
        keys |= {f"ui.every_1_{unit}", f"ui.every_n_{unit}s"}
    return keys


def test_every_key_the_page_uses_is_translated() -> None:
    used = _used_keys()
    assert len(used) > 100, "the key scan found too little; has the page changed shape?"
    for locale in LOCALES:
        flat = _flat(_load(locale))
        missing = sorted(k for k in used if not isinstance(flat.get(k), str) or not flat[k])
        assert not missing, f"{locale} lacks {missing}"


def test_locales_have_the_same_keys_and_placeholders() -> None:
    en, zh = (_flat(_load(locale)) for locale in LOCALES)
    assert set(en) == set(zh), set(en) ^ set(zh)
    for key, text in en.items():
        if isinstance(text, str):
            assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", zh[key])), key


def test_config_section_covers_the_schema() -> None:
    schema = json.loads((REPO_ROOT / "_conf_schema.json").read_text(encoding="utf-8"))
    for locale in LOCALES:
        data = _load(locale)
        assert data["metadata"]["display_name"] and data["pages"]["future-tasks"]["title"]
        config = data["config"]
        assert set(config) == set(schema), (locale, set(config) ^ set(schema))
        for key, entry in schema.items():
            assert config[key]["description"] and config[key]["hint"], (locale, key)
            if "options" in entry:
                assert len(config[key]["labels"]) == len(entry["options"]), (locale, key)


def test_page_uses_no_external_resources() -> None:
    for path in Path(PAGE).iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text), path
        assert "@import" not in text and "url(http" not in text, path


def test_the_sidebar_names_this_plugin_apart_from_astrbots_own_future_tasks() -> None:
    """AstrBot's dashboard names a plugin page in its sidebar from the plugin's i18n
    ``pages.<page>.title`` (``PluginPageService``); its own scheduler's entry reads
    "Future Tasks" / "未来任务"."""
    import yaml

    expected = {"en-US": "Scheduled Tasks", "zh-CN": "定时任务"}
    for locale, name in expected.items():
        data = _load(locale)
        assert data["pages"]["future-tasks"]["title"] == name
        assert data["metadata"]["display_name"] == name
    metadata = yaml.safe_load((REPO_ROOT / "metadata.yaml").read_text(encoding="utf-8"))
    assert metadata["display_name"] == expected["en-US"]
    html = (PAGE / "index.html").read_text(encoding="utf-8")
    assert f"<title>{expected['en-US']}</title>" in html
