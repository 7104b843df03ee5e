"""CodeMate's two services as every layer names them, and the condition
that one of them runs: its image tag is set. Before the first image is
pushed there is nothing to run, to watch or to deploy, so the services
layer, the alarms and the pipeline's deploy stage all wait on it."""

from troposphere import Equals, Not

# Title (in logical IDs and parameter names: FrontendImageTag) -> the word in
# AWS names, container names, repositories and source directories.
SERVICES = {"Frontend": "frontend", "Backend": "backend"}


def image_set(t, title: str) -> str:
    """The condition <Title>ImageSet: the root parameter <Title>ImageTag is
    not empty. Declared alike in each layer that waits on it."""
    return t.condition(f"{title}ImageSet", Not(Equals(t.input(f"{title}ImageTag"), "")))
