"""imu2safety.cards."""
