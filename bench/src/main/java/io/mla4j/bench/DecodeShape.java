package io.mla4j.bench;

import io.mla4j.Geometry;

/**
 * A decode shape named like {@code b8_sk8192_h16_sq1}: batch, cached tokens per sequence, heads, query tokens;
 * optionally a cache geometry, {@code _p16} (page size) and {@code _d256x32} (d_c x d_r), DeepSeek's otherwise, and a
 * cache format, {@code _fp8} (fp8_e4m3) or {@code _fp8ds} (the block-scaled layout), the dtype's own otherwise.
 */
public record DecodeShape(int b, int sk, int hq, int sq, Geometry geometry) {

    public DecodeShape(int b, int sk, int hq, int sq) { this(b, sk, hq, sq, Geometry.DEEPSEEK); }

    public static DecodeShape parse(String name) {
        int b = -1, sk = -1, hq = -1, sq = -1, page = Geometry.DEEPSEEK.pageSize(), dc = Geometry.DEEPSEEK.dC(), dr = Geometry.DEEPSEEK.dR();
        io.mla4j.CacheFormat f = io.mla4j.CacheFormat.PLAIN;
        try {
            for (String part : name.split("_")) {
                if (part.startsWith("fp8")) f = io.mla4j.CacheFormat.parse(part);
                else if (part.startsWith("sk")) sk = Integer.parseInt(part.substring(2));
                else if (part.startsWith("sq")) sq = Integer.parseInt(part.substring(2));
                else if (part.startsWith("b")) b = Integer.parseInt(part.substring(1));
                else if (part.startsWith("h")) hq = Integer.parseInt(part.substring(1));
                else if (part.startsWith("p")) page = Integer.parseInt(part.substring(1));
                else if (part.startsWith("d")) {
                    String[] w = part.substring(1).split("x");
                    dc = Integer.parseInt(w[0]);
                    dr = Integer.parseInt(w[1]);
                }
            }
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("bad shape '" + name + "', expected e.g. b8_sk8192_h16_sq1 or b8_sk8192_h16_sq1_p16_d256x32");
        }
        if (b < 1 || sk < 1 || hq < 1 || sq < 1) throw new IllegalArgumentException("bad shape '" + name + "', expected e.g. b8_sk8192_h16_sq1");
        return new DecodeShape(b, sk, hq, sq, new Geometry(page, dc, dr, f));
    }

    public long sumSeqlen() { return (long) b * sk; }
    /** FLOPs of one decode, FlashMLA's counting ({@link Geometry#flops}). */
    public double flops() { return geometry.flops(sumSeqlen(), hq, sq); }
    /** Bytes of one decode, FlashMLA's counting ({@link Geometry#bytes}). */
    public double bytes() { return geometry.bytes(sumSeqlen(), b, hq, sq); }

    @Override
    public String toString() {
        Geometry plain = geometry.withFormat(io.mla4j.CacheFormat.PLAIN);
        String g = plain.equals(Geometry.DEEPSEEK) ? "" : "_p" + geometry.pageSize() + "_d" + geometry.dC() + "x" + geometry.dR();
        String f = switch (geometry.format()) {
            case PLAIN -> "";
            case FP8_E4M3 -> "_fp8";
            case FP8_E4M3_BLOCKSCALE_ROPE_BF16 -> "_fp8ds";
        };
        return "b" + b + "_sk" + sk + "_h" + hq + "_sq" + sq + g + f;
    }
}
