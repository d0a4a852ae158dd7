"""imu2safety.builders."""
