"""The deployer: AWS clients, bootstrap, upload, change sets, plan, guard, protection, events, stack commands."""
