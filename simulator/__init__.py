"""Stage 2: skeletal motion -> wrist IMU (specific force + angular rate in the sensor frame)."""
