"""The records: tickets searched and exported for the people who read them (業務主任, 管理担当者)."""
