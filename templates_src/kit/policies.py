"""What a stateful resource keeps when CloudFormation deletes or replaces it.
The build refuses a stateful resource without one of these; spread one into
the resource: `Bucket("Files", ..., **RETAIN)`."""

from types import MappingProxyType

# Keep the resource itself (buckets, repositories, keys, secrets, log groups).
RETAIN = MappingProxyType({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
# Keep a final snapshot (databases, caches).
SNAPSHOT = MappingProxyType({"DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot"})
