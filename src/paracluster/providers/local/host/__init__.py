"""The local provider's host service: requests, the create and delete pipelines, the state it keeps, host commands."""
