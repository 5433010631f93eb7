"""Cross-scenario offers (issue 17, item 4): a rule links a partner's event in one
scenario (watched a series on ``video``) to an offer on another (a coupon for its
merchandise on ``shopping``), issued once per member per rule, under a weekly cap."""
