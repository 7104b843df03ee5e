"""How the compiler lays out what it builds: the root template's name, the
nested stack type, where a layer's template lives (file name, TemplateURL)
and how a TemplateURL names its layer again, and the files of build/."""

from __future__ import annotations

import re

ROOT = "root"  # the root template's name (build/templates/root.json); no layer may take it
STACK_TYPE = "AWS::CloudFormation::Stack"
MANIFEST_FILE = "manifest.json"
CACHE_FILE = "cache.json"
TEMPLATES_DIR = "templates"
# TemplateURL of a nested template: the Quick Start convention taskcat fills too.
TEMPLATE_URL = (
    "https://${TemplatesBucketName}.s3.${AWS::Region}.${AWS::URLSuffix}/"
    "${TemplatesKeyPrefix}%s"
)


def template_file(name: str) -> str:
    """The file a template is written to and uploaded as: "network.json"."""
    return f"{name}.json"


def template_url(name: str) -> str:
    """The Fn::Sub string of the nested template `name`."""
    return TEMPLATE_URL % template_file(name)


def layer_of_url(url) -> str | None:
    """The template name a nested stack's TemplateURL points at: the file
    name it ends in, without ${...} and ".json" ("${TemplatesKeyPrefix}network.json"
    -> "network"); None when there is no file name to read."""
    if isinstance(url, dict):
        url = url.get("Fn::Sub", "")
        url = url[0] if isinstance(url, list) else url
    if not isinstance(url, str):
        return None
    tail = re.sub(r"\$\{[^}]*\}", "", url.rsplit("/", 1)[-1])
    return tail.removesuffix(".json") or None


def nested_names(root_template: dict) -> dict[str, str]:
    """Nested stack logical ID -> template name, for every nested stack of
    a root template (the logical ID itself where the URL names no file)."""
    return {
        logical_id: layer_of_url(resource.get("Properties", {}).get("TemplateURL")) or logical_id
        for logical_id, resource in root_template.get("Resources", {}).items()
        if resource.get("Type") == STACK_TYPE
    }
