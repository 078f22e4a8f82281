from auth.models import AuthModel
from core.config import get_settings
from core.migrations import run_migrations

run_migrations(AuthModel.metadata, get_settings().auth_database_url)
