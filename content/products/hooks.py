"""A member's clicks and conversions are part of their data (export, erasure)."""

from app.hooks import register_personal_data
from content.products import service as products

register_personal_data("products", export=products.personal_data, erase=products.erase_personal_data)
