# One device call: wheels, MPS (if it works), then the driver with a deadline (seconds).
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
nproc; python3 --version
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
python3 -c "import torch, optuna, skimage; print('torch', torch.__version__, 'optuna', optuna.__version__, 'skimage', skimage.__version__, torch.cuda.get_device_name())"
export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps CUDA_MPS_LOG_DIRECTORY=/tmp/mpslog
mkdir -p /tmp/mps /tmp/mpslog
if command -v nvidia-cuda-mps-control >/dev/null && { nvidia-cuda-mps-control -d || true; } \
   && timeout 60 python3 -c "import torch; x = torch.ones(1, device='cuda'); print('MPS on', (x + 1).item())"; then
  :
else
  echo quit | nvidia-cuda-mps-control 2>/dev/null; echo "MPS off"
  unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
fi
python3 .gpu/drive.py "$OUT" "${1:-430}"
cat /tmp/mpslog/control.log 2>/dev/null | tail -5
