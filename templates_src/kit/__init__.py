"""Building blocks every layer may use: the keep/snapshot policies, the
private bucket, a log group per environment, an IAM role scoped to ARNs and
security-group rules.

One rule for their signatures: a block that needs the layer (its inputs or
its names) takes the layer's template `t` first and adds what it makes; a
block that does not returns troposphere objects for `t.add`. Layers import
them relatively: `from .kit.bucket import bucket`.
"""
