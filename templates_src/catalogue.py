"""Every root parameter: the schema of params/*.json.

Defaults are the dev values of the SPEC; a parameter without a default must
be set in every parameter file.
"""

from codemate_cfn.parameter import Param

TRUE_FALSE = ("true", "false")

PARAMETERS = [
    # Identity
    Param("EnvironmentName", "Environment name, used in resource names and tags.",
          allowed_values=("dev", "prod")),

    # Network (SPEC 2)
    Param("VpcCidr", "CIDR block of the VPC.", default="10.0.0.0/16", kind="cidr"),
    Param("PublicSubnet2aCidr", "Public subnet in ap-northeast-2a (ALB, NAT).", default="10.0.1.0/24", kind="subnet"),
    Param("PublicSubnet2cCidr", "Public subnet in ap-northeast-2c (ALB, NAT).", default="10.0.2.0/24", kind="subnet"),
    Param("AppSubnet2aCidr", "Private app subnet in ap-northeast-2a (ECS tasks).", default="10.0.11.0/24", kind="subnet"),
    Param("AppSubnet2cCidr", "Private app subnet in ap-northeast-2c (ECS tasks).", default="10.0.12.0/24", kind="subnet"),
    Param("DbSubnet2aCidr", "Isolated DB subnet in ap-northeast-2a (RDS, ElastiCache).", default="10.0.21.0/24", kind="subnet"),
    Param("DbSubnet2cCidr", "Isolated DB subnet in ap-northeast-2c (RDS, ElastiCache).", default="10.0.22.0/24", kind="subnet"),
    Param("NatGatewayCount", "NAT gateways: 1 (shared by both AZs, dev) or 2 (one per AZ, prod).",
          default="1", allowed_values=("1", "2")),

]
