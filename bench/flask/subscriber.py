"""Counts the messages of the Flask app's PUB socket: prints each one as a
line on stdout, and exits after --duration seconds.

    /usr/bin/python3 subscriber.py --zmq-port 5556 --duration 20
"""

import argparse
import sys
import time

import zmq


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zmq-port", type=int, required=True, help="PUB port on 127.0.0.1")
    parser.add_argument("--duration", type=float, required=True, help="seconds to run")
    arguments = parser.parse_args()

    socket = zmq.Context().socket(zmq.SUB)
    socket.setsockopt(zmq.SUBSCRIBE, b"number")
    socket.connect(f"tcp://127.0.0.1:{arguments.zmq_port}")
    print("ready", flush=True)
    deadline = time.monotonic() + arguments.duration
    while (remaining := deadline - time.monotonic()) > 0:
        if socket.poll(timeout=remaining * 1000):
            message = socket.recv_string()
            print(message, flush=True)
    socket.close(linger=0)
    sys.exit(0)


if __name__ == "__main__":
    main()
