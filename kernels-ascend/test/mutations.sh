#!/bin/sh
# Planted faults in the real kernel: each mutation edits one line of a copy of
# src/mla_decode_amla.cpp, builds it, runs the kernel test on a few cases and expects the failure
# the emulator (or the fp64 comparison) must report. Usage: test/mutations.sh CXX "CXXFLAGS" OUTDIR
set -u
CXX=$1; FLAGS=$2; OUT=$3
mkdir -p "$OUT"
TILING=$(pwd)/target/libmla4j_ascend_tiling.so
fails=0; n=0
mutate() {  # name, sed expression, case filter, expected text in the output
    n=$((n + 1))
    src="$OUT/m$n.cpp"; so="$OUT/m$n.so"
    sed "$2" src/mla_decode_amla.cpp > "$src"
    if cmp -s "$src" src/mla_decode_amla.cpp; then echo "FAIL mutation '$1': the edit matched nothing"; fails=$((fails + 1)); return; fi
    $CXX $FLAGS -Iemu -Iinclude -shared -o "$so" "$src" target/obj/emu_binary.o target/obj/ascendc_emu_runtime.o || { fails=$((fails + 1)); return; }
    log=$(ASCENDC_EMU_TIMEOUT_MS=2000 target/test/test_kernel_ref "$(pwd)/$so" "$TILING" "$3" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && echo "$log" | grep -q -- "$4"; then
        echo "ok   mutation caught: $1 -> $(echo "$log" | grep -m1 -- "$4" | cut -c1-200)"
    else
        echo "FAIL mutation not caught: $1 (rc $rc)"; echo "$log" | head -5; fails=$((fails + 1))
    fi
}
mutate "Vector skips the wait for P V done" 's/CrossCoreWaitFlag(FLAG_PV_DONE);  \/\/ P V of step g-1.*/(void)0;/' "peaky scores" "GM race\|more than 15\|still set"
mutate "Cube never signals S ready" 's/CrossCoreSetFlag<2, PIPE_FIX>(FLAG_S_READY);//' "single token" "deadlock"
mutate "no MTE2->MTE1 sync before LoadData" '0,/WaitFlag<HardEvent::MTE2_MTE1>(0);/s///' "single token" "no synchronisation"
mutate "no MTE1->MTE2 wait before refilling K" 's/WaitFlag<HardEvent::MTE1_MTE2>(EV_K0 + g % 2);.*//' "ragged 0" "WaitFlag\|SetFlag\|overwrites"
mutate "lse staging reused before MTE3 is done" 's/Sync<HardEvent::MTE3_S>(0);.*//' "ragged 0" "overwrites a buffer pipe MTE3 read"
mutate "K tail not zero-filled" 's/InitConstValue(kL1, z);//' "ragged 0" "nan [1-9]"
mutate "P V overwrites instead of accumulating" 's/if (st > 0) SetAtomicAdd<float>();//' "h_q=64 thousands" "FAIL"
mutate "second K tile too large for L1" 's/pipe_.InitBuffer(kL1_\[1\], mla4j_l1_k_bytes(dqk_));/pipe_.InitBuffer(kL1_[1], 2 * mla4j_l1_k_bytes(dqk_));/' "single token" "L1 overflow"
mutate "rescale by the raw int add (no zero guard)" 's/CompareScalar(mask, absv, Pow2(-126 - dn), CMPMODE::GE, pad);/CompareScalar(mask, absv, -1.0f, CMPMODE::GE, pad);/' "zero cache column" "FAIL"
mutate "a K run crosses a page boundary" 's/int32_t run = page_ - row < valid - j ? page_ - row : valid - j;/int32_t run = valid - j;/' "geometry page 16 256+64" "FAIL"
mutate "last S step taken at full depth" 's/uint32_t kk = dqk_ - kc \* K_STEP < K_STEP ? dqk_ - kc \* K_STEP : K_STEP;/uint32_t kk = K_STEP;/' "80+16 peaky" "FAIL"
mutate "rescale mask over d_v unpadded" 's/CompareScalar(mask, absv, Pow2(-126 - dn), CMPMODE::GE, pad);/CompareScalar(mask, absv, Pow2(-126 - dn), CMPMODE::GE, dv_);/' "80+16 peaky" "multiple of 256"
echo "$n mutations, $fails not caught"
[ $fails -eq 0 ]
