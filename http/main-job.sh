#!/usr/bin/env bash
# The main job: train the reference workload (784-128-10, Adam 1e-3, batch 32, 5 epochs) on Fashion-MNIST,
# evaluate it, save it, register it as model "fashion" (alias stable) and serve it; prints a curl command
# that classifies a test image. Also the Keras / ONNX round trip: exports the model as Keras 3 .keras and ONNX, and
# when a Keras model file is at hand (KERAS_MODEL, default ../shared/data/keras/k2_hotaruk_mnist_128.h5) imports it
# and registers it as model "mnist-keras". Run from anywhere after `mvn -B -q install -DskipTests`.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=http/target/dense4j.jar
data=${DATA:-/usr/share/datasets/fashion-mnist}
port=${PORT:-8080}
[ -f "$jar" ] || mvn -B -q install -DskipTests
d4j() { java -jar "$jar" "$@"; }

d4j train --data "$data" --layers 128,10 --activations relu,softmax --loss sparse_categorical_crossentropy \
  --optimizer adam --lr 1e-3 --epochs 5 --batch-size 32 --validation-split 0.1 --seed 42 --output models/fashion.d4j
d4j evaluate --model models/fashion.d4j --data "$data" | head -1
d4j registry register --registry registry --model fashion --alias stable --source "main-job: $data" models/fashion.d4j
d4j predict --model models/fashion.d4j --data "$data" --split t10k --rows 0 --write-request models/fashion-test-0.json
d4j export --model models/fashion.d4j --format keras -o models/fashion.keras
d4j export --model models/fashion.d4j --format onnx -o models/fashion.onnx
keras_model=${KERAS_MODEL:-../shared/data/keras/k2_hotaruk_mnist_128.h5}
if [ -f "$keras_model" ]; then
  d4j import "$keras_model" -o models/mnist-keras.d4j
  d4j registry register --registry registry --model mnist-keras --alias stable "$keras_model"
fi

echo
echo "Classify test image 0 once the server says it is ready:"
echo "  curl -s -H 'Content-Type: application/json' -d @$PWD/models/fashion-test-0.json http://127.0.0.1:$port/v2/models/fashion/infer"
echo
exec java -jar "$jar" serve --registry registry --port "$port"
