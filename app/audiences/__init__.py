"""Audiences (issue 17, item 3): admins' segments as rules over tags, tiers and member
attributes, compiled to one SQL query each, with stored membership kept current
incrementally as members' tags change (``is_member``, ``members_of``)."""
