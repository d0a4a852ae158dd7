"""imu2safety.training."""
