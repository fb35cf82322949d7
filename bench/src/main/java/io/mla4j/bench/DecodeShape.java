package io.mla4j.bench;

import io.mla4j.Mla;

/** A decode shape named like {@code b8_sk8192_h16_sq1}: batch, cached tokens per sequence, heads, query tokens. */
public record DecodeShape(int b, int sk, int hq, int sq) {

    public static DecodeShape parse(String name) {
        int b = -1, sk = -1, hq = -1, sq = -1;
        for (String part : name.split("_")) {
            if (part.startsWith("sk")) sk = Integer.parseInt(part.substring(2));
            else if (part.startsWith("sq")) sq = Integer.parseInt(part.substring(2));
            else if (part.startsWith("b")) b = Integer.parseInt(part.substring(1));
            else if (part.startsWith("h")) hq = Integer.parseInt(part.substring(1));
        }
        if (b < 1 || sk < 1 || hq < 1 || sq < 1) throw new IllegalArgumentException("bad shape '" + name + "', expected e.g. b8_sk8192_h16_sq1");
        return new DecodeShape(b, sk, hq, sq);
    }

    public long sumSeqlen() { return (long) b * sk; }
    /** FLOPs of one decode, FlashMLA's counting ({@link Mla#flops}). */
    public double flops() { return Mla.flops(sumSeqlen(), hq, sq); }
    /** Bytes of one decode, FlashMLA's counting ({@link Mla#bytes}). */
    public double bytes() { return Mla.bytes(sumSeqlen(), b, hq, sq); }

    @Override
    public String toString() { return "b" + b + "_sk" + sk + "_h" + hq + "_sq" + sq; }
}
