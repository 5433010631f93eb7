"""Red packets in a member's data: their export lists the packets they sent and the shares
they grabbed; their erasure closes their open packets (and exclusive ones meant for them),
refunding what is left to the sender now."""

from __future__ import annotations

from app.hooks import register_personal_data
from social.red_packets import service as red_packets

register_personal_data("red_packets", export=red_packets.personal_data, erase=red_packets.refund_for_erasure)
