from command_api.routes.buyer import router as buyer_router
from command_api.routes.operator import router as operator_router

__all__ = ["buyer_router", "operator_router"]
