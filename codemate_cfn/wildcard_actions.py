"""The IAM actions AWS authorizes on Resource "*" alone, each with why a
CodeMate role may need it: the one list the IAM policy rule (E9003) and
the layer kit's role both read."""

# Actions whose Service Authorization Reference entry lists no resource type:
# AWS authorizes them on "*" only. Action (lower case) -> why it is needed.
STAR_ONLY_ACTIONS = {
    "ecr:getauthorizationtoken": "registry login (ECS task execution role, CodeBuild docker login)",
    # Its RegisterTaskDefinition does take a resource type (task-definition): scope that.
    "ecs:describetaskdefinition": "CodePipeline's ECS deploy action reading the service's task definition to "
                                  "register the new revision from it",
    **dict.fromkeys(
        ["logs:createlogdelivery", "logs:getlogdelivery", "logs:updatelogdelivery",
         "logs:deletelogdelivery", "logs:listlogdeliveries"],
        "vended log delivery set-up (e.g. Step Functions, API Gateway access logs to CloudWatch Logs)",
    ),
    "cloudwatch:putmetricdata": "custom metrics (narrow with the cloudwatch:namespace condition key)",
    **dict.fromkeys(
        ["xray:puttracesegments", "xray:puttelemetryrecords", "xray:getsamplingrules", "xray:getsamplingtargets"],
        "the X-Ray daemon or SDK sending traces",
    ),
    # CodeBuild in a VPC. Its CreateNetworkInterface, DeleteNetworkInterface and
    # CreateNetworkInterfacePermission do take resource types: scope those.
    **dict.fromkeys(
        ["ec2:describenetworkinterfaces", "ec2:describesubnets", "ec2:describesecuritygroups",
         "ec2:describevpcs", "ec2:describedhcpoptions"],
        "CodeBuild (or Lambda) in a VPC reading the network it runs in",
    ),
    **dict.fromkeys(
        ["ssmmessages:createcontrolchannel", "ssmmessages:createdatachannel",
         "ssmmessages:opencontrolchannel", "ssmmessages:opendatachannel"],
        "ECS Exec sessions from the task role",
    ),
}
