"""codemate-cfn: compiles CodeMate's layer builders into nested CloudFormation
templates, validates them and deploys them as reviewed change sets."""

__version__ = "0.1.0"
