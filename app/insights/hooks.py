from app import hooks
from app.insights import service as insights

hooks.register_personal_data("insights", export=insights.personal_data, erase=insights.erase_personal_data)
