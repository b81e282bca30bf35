"""tf.io.decode_csv, tf.data.experimental.CsvDataset and make_csv_dataset, as the "Load CSV data"
and "Overfit and underfit" tutorials call them."""

import gzip

import numpy as np
import pytest

import fastnn as tf

TITANIC = """survived,sex,age,n_siblings_spouses,parch,fare,class,deck,embark_town,alone
0,male,22.0,1,0,7.25,Third,unknown,Southampton,n
1,female,38.0,1,0,71.2833,First,C,Cherbourg,n
1,female,26.0,0,0,7.925,Third,unknown,Southampton,y
1,female,35.0,1,0,53.1,First,C,Southampton,n
0,male,28.0,0,0,8.4583,Third,unknown,Queenstown,y
"""


def test_decode_csv_types_defaults_and_errors():
    records = np.array(["1,2.5,a", "4,,b", ",7,"])
    ints, floats, strings = tf.io.decode_csv(records, record_defaults=[0, 1.5, "z"])
    assert ints.dtype == np.int32 and ints.tolist() == [1, 4, 0]
    assert floats.dtype == np.float32 and floats.tolist() == [2.5, 1.5, 7.0]
    assert strings.tolist() == ["a", "b", "z"]
    first, = tf.io.decode_csv(np.array([["3"], ["5"]]), [np.array([0], np.int64)])
    assert first.shape == (2, 1) and first.dtype == np.int64
    with pytest.raises(ValueError, match="field 1 is required but missing in record 1"):
        tf.io.decode_csv(records[:2], record_defaults=[0, tf.constant([], tf.float32), ""])
    with pytest.raises(ValueError, match="expect 2 fields but have 3 in record 0"):
        tf.io.decode_csv(records[:1], record_defaults=[0, 0.0])


def test_csv_dataset_reads_rows_as_tuples(tmp_path):
    # "Overfit and underfit": CsvDataset(path, [float()] * n, compression_type="GZIP")
    path = tmp_path / "higgs.csv.gz"
    path.write_bytes(gzip.compress(b"1,2,3\n0,4,5\n"))
    rows = [tuple(float(v) for v in row) for row in
            tf.data.experimental.CsvDataset(str(path), [float()] * 3, compression_type="GZIP")]
    assert rows == [(1.0, 2.0, 3.0), (0.0, 4.0, 5.0)]
    plain = tmp_path / "t.csv"
    plain.write_text(TITANIC)
    picked = tf.data.experimental.CsvDataset(str(plain), [0.0, ""], header=True, select_cols=[2, 6])
    assert [(float(a), str(b)) for a, b in picked][:2] == [(22.0, "Third"), (38.0, "First")]


def test_make_csv_dataset_batches_a_dict_of_columns(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(TITANIC)
    ds = tf.data.experimental.make_csv_dataset(str(path), batch_size=2, label_name="survived", num_epochs=1,
                                               shuffle=False)
    features, label = next(iter(ds))
    assert list(features) == ["sex", "age", "n_siblings_spouses", "parch", "fare", "class", "deck", "embark_town",
                              "alone"]
    assert label.tolist() == [0, 1] and features["age"].dtype == np.float32 and features["parch"].dtype == np.int32
    assert features["sex"].tolist() == ["male", "female"]
    assert len(ds) == 3  # (5 rows, one pass, batches of 2)
    endless = tf.data.experimental.make_csv_dataset(str(path), batch_size=4, label_name="survived")
    assert int(endless.cardinality()) == -1
    with pytest.raises(ValueError, match="no files matched pattern"):
        tf.data.experimental.make_csv_dataset(str(tmp_path / "missing*.csv"), batch_size=2)
