"""CodeMate's two services as every layer names them, the ports and health
checks the design gives them, and the condition
that one of them runs: its image tag is set. Before the first image is
pushed there is nothing to run, to watch or to deploy, so the services
layer, the alarms and the pipeline's deploy stage all wait on it."""

from troposphere import Equals, Not

# Title (in logical IDs and parameter names: FrontendImageTag) -> the word in
# AWS names, container names, repositories and source directories.
SERVICES = {"Frontend": "frontend", "Backend": "backend"}
# CodeMate's design: the port each service listens on (its security group
# rule, target group and container) and its health check path (target group
# and container check).
PORT = {"Frontend": 3000, "Backend": 3001}
HEALTH_PATH = {"Frontend": "/api/health", "Backend": "/health"}


def image_set(t, title: str) -> str:
    """The condition <Title>ImageSet: the root parameter <Title>ImageTag is
    not empty. Declared alike in each layer that waits on it."""
    return t.condition(f"{title}ImageSet", Not(Equals(t.input(f"{title}ImageTag"), "")))
