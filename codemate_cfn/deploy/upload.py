"""Uploads the templates to the artifact bucket under a prefix named after
their content, skipping the ones already there: an unchanged build uploads
nothing, and a stack's TemplateURLs never change under it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from codemate_cfn.deploy.aws import url_suffix
from codemate_cfn.compile.render import to_json

PREFIX_ROOT = "templates"


def texts(templates: dict[str, dict]) -> dict[str, bytes]:
    """The exact bytes uploaded for each template (as `build` writes them)."""
    return {name: to_json(template).encode() for name, template in templates.items()}


def content_hash(bodies: dict[str, bytes]) -> str:
    """sha256 over every template's name and bytes."""
    digest = hashlib.sha256()
    for name in sorted(bodies):
        digest.update(name.encode() + b"\0" + hashlib.sha256(bodies[name]).digest())
    return digest.hexdigest()


def key_prefix(bodies: dict[str, bytes]) -> str:
    return f"{PREFIX_ROOT}/{content_hash(bodies)[:16]}/"


@dataclass
class Upload:
    bucket: str
    prefix: str
    region: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def url(self, name: str) -> str:
        return f"https://{self.bucket}.s3.{self.region}.{url_suffix(self.region)}/{self.prefix}{name}.json"


def upload(s3, bucket: str, bodies: dict[str, bytes], region: str) -> Upload:
    prefix = key_prefix(bodies)
    result = Upload(bucket, prefix, region)
    present = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        present |= {item["Key"] for item in page.get("Contents", [])}
    for name, body in bodies.items():
        key = f"{prefix}{name}.json"
        if key in present:
            result.skipped.append(name)
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        result.uploaded.append(name)
    return result
