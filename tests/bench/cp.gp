# Control plane (issue 27): wall time of `l3dsr apply` against the stock tools loading the same
# state, against N, log-log: per kernel a director panel and a real-server panel. run.sh calls
#   gnuplot -e "out='PNG'; dir='DATADIR'; k1='KREL1'; k2='KREL2'" cp.gp
# (k2 may be ''); report.py wrote DATADIR/cp-KREL.dat with two blocks, the director's (index 0)
# and the real server's (index 1), each row N BASELINE APPLY APPLY1 EDIT1 (medians in seconds,
# NaN where the row was not run; EDIT1, the director's one `real edit`, only in index 0). A panel without any figure says so instead of failing.
ks = (k2 eq '') ? k1 : k1 . ' ' . k2
n = words(ks)
set terminal pngcairo size 1400,(n * 520 + 60) font ",11" noenhanced
set output out
set logscale xy
set xrange [40:6500]
set format y "%g"
set grid xtics ytics mytics
set key top left box opaque
set ylabel "seconds (median over the rounds)"
set multiplot layout n,2 title "l3dsr apply against the stock tools loading the same state, each in a fresh namespace (qemu TCG)"
do for [i=1:n] {
	f = sprintf("%s/cp-%s.dat", dir, word(ks, i))
	do for [b=0:1] {
		if (b == 0) {
			set title sprintf("%s, director: N dscp services, 2 reals each", word(ks, i))
			set xlabel "services"
			set xtics ("63" 63, "252" 252, "1,008" 1008, "4,032" 4032)
			tb = "baseline: ip -batch + ipvsadm -R + nft -f"
			t1 = "apply, one real's weight changed"
		} else {
			set title sprintf("%s, real server: N dscp VIPs with local keys", word(ks, i))
			set xlabel "VIPs"
			set xtics ("63" 63, "1,008" 1008, "4,032" 4032)
			tb = "baseline: ip -batch + one l3dsr rule replace"
			t1 = "apply, one VIP added"
		}
		# Any figure in the block (NaN is the one value not equal to itself)? stats only warns
		# when there is none, and leaves STATS_records unset.
		undefine STATS_*
		stats f index b using (($2 == $2 || $3 == $3 || $4 == $4) ? 1 : NaN) nooutput
		unset label 1
		if (exists("STATS_records")) {
			set autoscale y
		} else {
			set yrange [0.1:100]
			set label 1 "not run" at graph 0.5, 0.5 center font ",16"
		}
		plot f index b using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title tb, \
		     f index b using 1:3 with linespoints lw 2 pt 5 lc rgb "#d62728" title "l3dsr apply from nothing", \
		     f index b using 1:4 with linespoints lw 2 pt 9 lc rgb "#2ca02c" title t1, \
		     f index b using 1:5 with linespoints lw 2 pt 11 lc rgb "#9467bd" title (b == 0 ? "director real edit of that real" : ""), \
		     f index b using 1:(2 * $2) with lines lw 1.5 dt 2 lc rgb "gray40" title "goal: 2× baseline"
	}
}
unset multiplot
