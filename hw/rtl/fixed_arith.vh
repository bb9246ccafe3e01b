// The unit's fixed-point arithmetic as Verilog functions, included inside a module:
// sign extension to 48 bits, 16x16 signed products, round to nearest with ties toward
// +infinity while dropping s fraction bits (s <= 0 scales up), and saturation to 16 bits,
// exactly as the golden model (dapa/fixed_point.h) and hw/hls/fixed_arith.h.
function automatic signed [47:0] ext16(input signed [15:0] v);
  ext16 = {{32{v[15]}}, v};
endfunction
function automatic signed [47:0] ext32(input signed [31:0] v);
  ext32 = {{16{v[31]}}, v};
endfunction
function automatic signed [31:0] mul16(input signed [15:0] a, input signed [15:0] b);
  mul16 = $signed({{16{a[15]}}, a}) * $signed({{16{b[15]}}, b});
endfunction
function automatic signed [47:0] round_shift(input signed [47:0] v, input integer s);
  if (s > 0) round_shift = (v + (48'sd1 <<< (s - 1))) >>> s;
  else round_shift = v <<< (-s);
endfunction
function automatic signed [15:0] sat16(input signed [47:0] v);
  if (v > 48'sd32767) sat16 = 16'sh7fff;
  else if (v < -48'sd32768) sat16 = 16'sh8000;
  else sat16 = v[15:0];
endfunction
