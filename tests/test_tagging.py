"""Which types take tags, under which property and in which form (from
cfn-lint's resource schemas), and merging tags into a value of either form."""

import pytest

from codemate_cfn.tagging import LIST, MAP, TagForm, read_tags, tag_form, with_tags

STANDARD = {"Environment": {"Ref": "EnvironmentName"}, "Project": "codemate", "ManagedBy": "cloudformation"}


@pytest.mark.parametrize("resource_type, form", [
    ("AWS::S3::Bucket", TagForm("Tags", LIST)),
    ("AWS::SSM::Parameter", TagForm("Tags", MAP)),
    ("AWS::Route53::HostedZone", TagForm("HostedZoneTags", LIST)),
    ("AWS::CodeBuild::Project", TagForm("Tags", LIST)),  # its schema has no tagging section
    ("AWS::EC2::Route", None),  # taggable: false
    ("AWS::CloudFront::AnycastIpList", None),  # tags wrapped in {"Items": [...]}: neither form
    ("Custom::Seed", None),  # no schema
])
def test_tag_form_reads_the_schema(resource_type, form):
    assert tag_form(resource_type) == form


def test_list_form_merges_without_duplicating_keys_and_keeps_other_tags():
    existing = [{"Key": "Name", "Value": "files"}, {"Key": "Project", "Value": "old"}]

    assert with_tags("AWS::S3::Bucket", existing, STANDARD) == [
        {"Key": "Environment", "Value": {"Ref": "EnvironmentName"}},
        {"Key": "Project", "Value": "codemate"},
        {"Key": "ManagedBy", "Value": "cloudformation"},
        {"Key": "Name", "Value": "files"},
    ]


def test_map_form_merges_without_duplicating_keys_and_keeps_other_tags():
    merged = with_tags("AWS::SSM::Parameter", {"Name": "api-url", "Project": "old"}, STANDARD)

    assert merged == {**STANDARD, "Name": "api-url"}
    assert list(merged) == ["Environment", "Project", "ManagedBy", "Name"]


def test_other_tag_properties_and_no_value_yet():
    assert with_tags("AWS::Route53::HostedZone", None, {"Project": "codemate"}) == [{"Key": "Project", "Value": "codemate"}]
    assert with_tags("AWS::SSM::Parameter", None, {"Project": "codemate"}) == {"Project": "codemate"}


def test_merging_into_the_wrong_form_or_an_untaggable_type_is_refused():
    with pytest.raises(ValueError, match="AWS::S3::Bucket Tags: expected a list, got dict"):
        with_tags("AWS::S3::Bucket", {"Name": "files"}, STANDARD)
    with pytest.raises(ValueError, match="AWS::EC2::Route takes no tags"):
        with_tags("AWS::EC2::Route", None, STANDARD)


def test_read_tags_gives_keys_and_values_of_either_form():
    assert read_tags(TagForm("Tags", LIST), [{"Key": "Project", "Value": "codemate"}]) == {"Project": "codemate"}
    assert read_tags(TagForm("Tags", MAP), {"Project": "codemate"}) == {"Project": "codemate"}
    assert read_tags(TagForm("Tags", MAP), {"Fn::If": ["C", {}, {}]}) is None  # a function, not a map
    assert read_tags(TagForm("Tags", LIST), {"Project": "codemate"}) is None
