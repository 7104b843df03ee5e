"""A security scanner's check that does not apply to a resource, written
next to the resource with the reason a security reviewer reads: checkov's
own skip in the resource's Metadata (codemate_cfn/scanner_skips.py shows
the format). A skip that holds in some environments only names the
template condition under which it holds; the security gate
(`python -m codemate_cfn.security scan`) scans each parameter file with the
skips whose condition is true for it, and docs/security.md lists them all.

Fix what is real; skip only what the design wants as it is."""

from troposphere import If

from codemate_cfn.layer import with_skip


def scanner_skip(resource, check_id: str, reason: str, when: str | None = None):
    """Skip checkov's `check_id` ("CKV_AWS_18") on `resource` (a troposphere
    resource) for `reason`, one line; with `when`, only where that condition
    of the layer (t.condition) is true. Metadata the resource has already
    (cfn-lint ignores) is kept. Returns the resource."""
    metadata = with_skip(resource.resource.get("Metadata"), check_id, reason,
                         If(when, True, False) if when else None, when)
    resource.Metadata = metadata
    return resource
