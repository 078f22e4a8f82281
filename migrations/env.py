from core.config import get_settings
from core.migrations import run_migrations
from loyalty.models import LoyaltyModel

run_migrations(LoyaltyModel.metadata, get_settings().loyalty_database_url)
