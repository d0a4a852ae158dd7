"""imu2safety: synthetic wrist-IMU data with safety labels from video and 3D skeletons."""

__version__ = "0.1.0"
