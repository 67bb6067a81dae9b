"""Edge daemon: camera -> faces -> int8 emotions -> MQTT. Never imports TensorFlow."""
