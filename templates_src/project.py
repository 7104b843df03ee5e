"""CodeMate's conventions, in one place: the project's name, the region and
availability zones it runs in, the tags every resource carries, how AWS
names are made, and the facts of the region the layers need.

CONVENTIONS is what the compiler applies to every layer (names, tags, the
environment input); the rest is for the layers themselves.
"""

from troposphere import Ref, Sub

from codemate_cfn.layer import Conventions

PROJECT = "codemate"

# CodeMate's design: CodeMate runs in Seoul, in two of its availability zones.
REGION = "ap-northeast-2"
REGIONS = (REGION,)  # the regions the templates are made for
AZS = ("2a", "2c")  # suffixes of ap-northeast-2a / ap-northeast-2c

# The root parameter naming the environment (dev, prod), and how a Sub
# string spells its value: "codemate/${EnvironmentName}/database".
ENVIRONMENT_PARAM = "EnvironmentName"
ENVIRONMENT = "${%s}" % ENVIRONMENT_PARAM

# CodeMate's design: every resource is tagged with its environment, the project and
# what manages it.
TAGS = {"Environment": Ref(ENVIRONMENT_PARAM), "Project": PROJECT, "ManagedBy": "cloudformation"}

# Elastic Load Balancing's log-delivery account for ap-northeast-2: regions
# older than August 2022 deliver ALB access logs from a per-region account,
# not from a service principal.
ELB_LOG_DELIVERY_ACCOUNT = "600734575887"

# The account baseline's CloudTrail trail (observability layer), named like
# the other resources. The storage layer's key and logs-bucket policies let
# CloudTrail write for this trail alone, so they name it before it exists.
TRAIL_NAME = f"{PROJECT}-trail-{ENVIRONMENT}"  # Fn::Sub text


def trail_arn() -> Sub:
    """The ARN of this environment's trail, built from its name."""
    return Sub("arn:${AWS::Partition}:cloudtrail:${AWS::Region}:${AWS::AccountId}:trail/" + TRAIL_NAME)


CONVENTIONS = Conventions(
    name_prefix=PROJECT,
    environment_param=ENVIRONMENT_PARAM,
    tags=TAGS,
    regions=REGIONS,
)


def az(suffix: str) -> Sub:
    """The availability zone with this suffix in the stack's region:
    az("2a") is ap-northeast-2a, written "${AWS::Region}a" so no AZ name is
    hard-coded."""
    return Sub("${AWS::Region}" + suffix[-1])


def zone_name(suffix: str) -> str:
    """The availability zone's name, for descriptions: "ap-northeast-2a"."""
    return REGION + suffix[-1]
