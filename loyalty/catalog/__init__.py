"""The catalog: tariffs, promo codes and generated batches of codes."""
