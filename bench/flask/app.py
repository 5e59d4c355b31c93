"""The publishing pattern zpub replaces, for comparison: a Flask view that
binds a ZeroMQ PUB socket, waits a second for subscribers to connect, sends
one message and unbinds, on every request. A second request while the first
still has the port bound fails with "Address already in use".

Run with Debian's python3-flask and python3-zmq:
    /usr/bin/python3 app.py --port 5000 --zmq-port 5556
"""

import argparse
import time

import zmq
from flask import Flask

context = zmq.Context()
app = Flask(__name__)
zmq_endpoint = ""


@app.get("/print/<int:number>")
def print_number(number):
    socket = context.socket(zmq.PUB)
    try:
        socket.bind(zmq_endpoint)
        time.sleep(1)
        socket.send_string(f"number{number}")
        socket.unbind(zmq_endpoint)
    finally:
        socket.close(linger=1000)
    return f"Number {number}"


def main():
    global zmq_endpoint
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="HTTP port on 127.0.0.1")
    parser.add_argument("--zmq-port", type=int, required=True, help="PUB port on 127.0.0.1")
    arguments = parser.parse_args()
    zmq_endpoint = f"tcp://127.0.0.1:{arguments.zmq_port}"
    app.run(host="127.0.0.1", port=arguments.port, threaded=True)


if __name__ == "__main__":
    main()
