"""Explanation: say why each ranked item fits, from the item's own facts only."""
